//! Volunteers: applications, teams, availability, hours, leaderboard.
