//! What a meal costs a member, and whether it may be delivered: pure functions of the menu, the
//! member and the community's settings, so the price frozen on a reservation can be checked by
//! table. Ages are taken on the menu's date; "the 8th" is the menu's date, itself a day in the
//! community's time zone.
use chrono::{Datelike, NaiveDate};

use crate::community::{settings::CommunitySettings, users::age_on};

/// The member as pricing sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Diner {
    pub birth_date: Option<NaiveDate>,
    pub lives_alone: bool,
    pub empty_nest: bool,
    pub hardship: bool,
}

/// A price, frozen on the reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    pub price_fen: i32,
    pub subsidy_fen: i32,
    pub payable_fen: i32,
    /// The free-meal-day meal, paid by the community (not the subsidy account).
    pub free_meal: bool,
}

pub fn is_free_meal_day(date: NaiveDate, settings: &CommunitySettings) -> bool {
    date.day() == settings.free_meal_day
}

fn age(diner: &Diner, date: NaiveDate) -> Option<u32> {
    diner.birth_date.map(|birth| age_on(birth, date))
}

pub fn price(
    price_fen: i32,
    date: NaiveDate,
    diner: &Diner,
    settings: &CommunitySettings,
) -> Price {
    let free_meal = is_free_meal_day(date, settings) && (diner.empty_nest || diner.hardship);
    if free_meal {
        return Price {
            price_fen,
            subsidy_fen: 0,
            payable_fen: 0,
            free_meal: true,
        };
    }
    let elder = age(diner, date).is_some_and(|a| a >= settings.elder_age);
    let subsidy_fen = if elder {
        i32::try_from(
            settings
                .elder_subsidy_fen
                .clamp(0, i64::from(price_fen.max(0))),
        )
        .unwrap_or(0)
    } else {
        0
    };
    let payable_fen = if diner.hardship && settings.hardship_free {
        0
    } else {
        price_fen - subsidy_fen
    };
    Price {
        price_fen,
        subsidy_fen,
        payable_fen,
        free_meal: false,
    }
}

/// Delivery is for members who live alone, the very old, and on the free-meal day the
/// empty-nest and hardship members.
pub fn may_have_delivered(date: NaiveDate, diner: &Diner, settings: &CommunitySettings) -> bool {
    diner.lives_alone
        || age(diner, date).is_some_and(|a| a >= settings.delivery_min_age)
        || (is_free_meal_day(date, settings) && (diner.empty_nest || diner.hardship))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::community::users::local_date;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn born(s: &str) -> Diner {
        Diner {
            birth_date: Some(day(s)),
            ..Diner::default()
        }
    }

    #[test]
    fn prices_by_table() {
        let defaults = CommunitySettings::default();
        let hardship = Diner {
            hardship: true,
            ..born("1990-01-01")
        };
        let empty_nest_elder = Diner {
            empty_nest: true,
            ..born("1950-01-01")
        };
        // (case, price, menu date, diner, settings) → (subsidy, payable, free meal)
        type Case = (
            &'static str,
            i32,
            &'static str,
            Diner,
            CommunitySettings,
            (i32, i32, bool),
        );
        let cases: Vec<Case> = vec![
            (
                "adult",
                1400,
                "2026-12-01",
                born("1990-05-01"),
                defaults.clone(),
                (0, 1400, false),
            ),
            (
                "59 the day before turning 60",
                1400,
                "2026-12-01",
                born("1966-12-02"),
                defaults.clone(),
                (0, 1400, false),
            ),
            (
                "60 on the day",
                1400,
                "2026-12-01",
                born("1966-12-01"),
                defaults.clone(),
                (400, 1000, false),
            ),
            (
                "80",
                1400,
                "2026-12-01",
                born("1946-11-30"),
                defaults.clone(),
                (400, 1000, false),
            ),
            (
                "no birth date",
                1400,
                "2026-12-01",
                Diner::default(),
                defaults.clone(),
                (0, 1400, false),
            ),
            (
                "price below the subsidy",
                300,
                "2026-12-01",
                born("1950-01-01"),
                defaults.clone(),
                (300, 0, false),
            ),
            (
                "free menu",
                0,
                "2026-12-01",
                born("1950-01-01"),
                defaults.clone(),
                (0, 0, false),
            ),
            (
                "hardship any day",
                1400,
                "2026-12-01",
                hardship,
                defaults.clone(),
                (0, 0, false),
            ),
            (
                "hardship elder keeps the subsidy",
                1400,
                "2026-12-01",
                Diner {
                    hardship: true,
                    ..born("1950-01-01")
                },
                defaults.clone(),
                (400, 0, false),
            ),
            (
                "hardship when it is not free",
                1400,
                "2026-12-01",
                hardship,
                CommunitySettings {
                    hardship_free: false,
                    ..defaults.clone()
                },
                (0, 1400, false),
            ),
            (
                "free-meal day, empty nest",
                1400,
                "2026-12-08",
                empty_nest_elder,
                defaults.clone(),
                (0, 0, true),
            ),
            (
                "free-meal day, hardship",
                1400,
                "2026-12-08",
                hardship,
                defaults.clone(),
                (0, 0, true),
            ),
            (
                "free-meal day, other elder pays",
                1400,
                "2026-12-08",
                born("1950-01-01"),
                defaults.clone(),
                (400, 1000, false),
            ),
            (
                "empty nest on another day",
                1400,
                "2026-12-09",
                empty_nest_elder,
                defaults.clone(),
                (400, 1000, false),
            ),
            (
                "the community's own free-meal day",
                1400,
                "2026-12-15",
                empty_nest_elder,
                CommunitySettings {
                    free_meal_day: 15,
                    ..defaults.clone()
                },
                (0, 0, true),
            ),
            (
                "a larger subsidy",
                1400,
                "2026-12-01",
                born("1950-01-01"),
                CommunitySettings {
                    elder_subsidy_fen: 600,
                    ..defaults.clone()
                },
                (600, 800, false),
            ),
            (
                "elders from 65",
                1400,
                "2026-12-01",
                born("1963-01-01"),
                CommunitySettings {
                    elder_age: 65,
                    ..defaults.clone()
                },
                (0, 1400, false),
            ),
        ];
        for (case, price_fen, date, diner, settings, (subsidy, payable, free)) in cases {
            let got = price(price_fen, day(date), &diner, &settings);
            assert_eq!(
                (got.subsidy_fen, got.payable_fen, got.free_meal),
                (subsidy, payable, free),
                "{case}"
            );
            assert_eq!(got.price_fen, price_fen, "{case}");
        }
    }

    #[test]
    fn a_price_once_frozen_does_not_follow_the_settings() {
        let elder = born("1950-01-01");
        let before = price(
            1400,
            day("2026-12-01"),
            &elder,
            &CommunitySettings::default(),
        );
        let changed = CommunitySettings {
            elder_subsidy_fen: 800,
            ..CommunitySettings::default()
        };
        let after = price(1400, day("2026-12-01"), &elder, &changed);
        assert_eq!((before.subsidy_fen, after.subsidy_fen), (400, 800));
    }

    #[test]
    fn the_eighth_begins_at_midnight_in_shanghai() {
        let settings = CommunitySettings::default();
        let just_before = Utc.with_ymd_and_hms(2026, 12, 7, 15, 59, 59).unwrap();
        let midnight = Utc.with_ymd_and_hms(2026, 12, 7, 16, 0, 0).unwrap();
        assert!(!is_free_meal_day(
            local_date(just_before, "Asia/Shanghai"),
            &settings
        ));
        assert!(is_free_meal_day(
            local_date(midnight, "Asia/Shanghai"),
            &settings
        ));
        assert!(!is_free_meal_day(local_date(midnight, "UTC"), &settings));
    }

    #[test]
    fn who_may_have_meals_delivered() {
        let s = CommunitySettings::default();
        let cases = [
            (
                "lives alone",
                Diner {
                    lives_alone: true,
                    ..born("1990-01-01")
                },
                "2026-12-01",
                true,
            ),
            ("79", born("1947-12-02"), "2026-12-01", false),
            ("80", born("1946-12-01"), "2026-12-01", true),
            (
                "empty nest, ordinary day",
                Diner {
                    empty_nest: true,
                    ..born("1950-01-01")
                },
                "2026-12-01",
                false,
            ),
            (
                "empty nest, the 8th",
                Diner {
                    empty_nest: true,
                    ..born("1950-01-01")
                },
                "2026-12-08",
                true,
            ),
            (
                "hardship, the 8th",
                Diner {
                    hardship: true,
                    ..Diner::default()
                },
                "2026-12-08",
                true,
            ),
            ("no birth date", Diner::default(), "2026-12-08", false),
        ];
        for (case, diner, date, allowed) in cases {
            assert_eq!(may_have_delivered(day(date), &diner, &s), allowed, "{case}");
        }
    }
}
