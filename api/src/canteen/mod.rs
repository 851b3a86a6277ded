//! Canteen (食堂): menus, reservations with prices frozen from the community's settings,
//! standing orders, the free-meal roster and the monthly report.
