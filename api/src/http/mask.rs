//! Masking of personal data on output.

/// `13812345678` → `138****5678`; anything too short to mask keeps only its last two characters.
pub fn phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() >= 7 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    } else {
        let keep = chars.len().min(2);
        let tail: String = chars[chars.len() - keep..].iter().collect();
        format!("{}{tail}", "*".repeat(chars.len() - keep))
    }
}

/// `王小明` → `王**`: the first character and one star for each of the rest.
pub fn name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn phones_keep_only_their_ends() {
        let cases = [
            ("13812345678", "138****5678"),
            ("+8613812345678", "+86****5678"),
            ("1234", "**34"),
            ("", ""),
        ];
        for (input, masked) in cases {
            assert_eq!(super::phone(input), masked, "{input}");
        }
    }

    #[test]
    fn names_keep_their_first_character() {
        let cases = [("王小明", "王**"), ("李四", "李*"), ("张", "张*"), ("", "")];
        for (input, masked) in cases {
            assert_eq!(super::name(input), masked, "{input}");
        }
    }
}
