//! Micro-wishes: the lifecycle, its rules, concurrency and privacy.
