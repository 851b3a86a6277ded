//! Schema migrations, applied at start-up (`linli serve`) or by `linli migrate`.
pub use sea_orm_migration::prelude::*;

mod helpers;
mod m20261122_000001_foundation;
mod m20261123_000001_queues;
mod m20261123_000002_volunteers_and_wishes;
mod m20261123_000003_courses;
mod m20261123_000004_course_audit;
mod m20261123_000005_attendance;
mod m20261124_000001_course_lottery_and_reminders;
mod m20261124_000002_canteen;
mod m20261125_000001_course_last_place;
mod m20261201_000001_membership_and_check_in_attempts;
mod m20261201_000002_conversations;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261123_000001_queues::Migration),
            Box::new(m20261123_000002_volunteers_and_wishes::Migration),
            Box::new(m20261123_000003_courses::Migration),
            Box::new(m20261123_000004_course_audit::Migration),
            Box::new(m20261123_000005_attendance::Migration),
            Box::new(m20261124_000001_course_lottery_and_reminders::Migration),
            Box::new(m20261124_000002_canteen::Migration),
            Box::new(m20261125_000001_course_last_place::Migration),
            Box::new(m20261201_000001_membership_and_check_in_attempts::Migration),
            Box::new(m20261201_000002_conversations::Migration),
        ]
    }
}
