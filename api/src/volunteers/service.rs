//! Applications, teams, availability, hours and the leaderboard.
