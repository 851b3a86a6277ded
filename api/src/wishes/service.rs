//! The wish lifecycle and its rules.
