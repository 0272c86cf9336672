//! The coordinator's gRPC API end to end: a real tonic server on loopback over a real
//! store, every test once on SQLite and once on Postgres (see [`crate::api_support`]).

/// Instantiates every listed test body (`async fn(Arc<Harness>)` in `api_support`) once
/// per backend.
macro_rules! api_tests {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let harness = crate::api_support::Harness::sqlite().await;
                    crate::api_support::run_test(harness, crate::api_support::$module::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let harness = crate::api_support::Harness::postgres().await;
                    crate::api_support::run_test(harness, crate::api_support::$module::$name).await;
                }
            )*
        }
    };
}

api_tests!(
    runs::create_run_from_a_task_directory,
    runs::held_back_answers_travel_apart_from_the_data,
    runs::a_server_task_is_served_by_name_and_confined_to_its_root,
    runs::create_run_from_a_reference_task,
    runs::a_malformed_task_is_an_invalid_argument_naming_what_is_missing,
    runs::bad_settings_are_an_invalid_argument_naming_the_field,
    runs::get_and_list_runs,
    runs::cancel_run_is_idempotent,
    runs::store_failures_are_internal_without_details,
    watch::watch_delivers_stored_then_live_events_and_ends_with_the_run,
    watch::watch_ends_for_a_run_cancelled_without_engine_events,
    watch::a_watcher_that_goes_away_ends_its_task,
    watch::a_notified_watcher_wakes_without_waiting_for_the_poll,
    nodes::get_node_shows_code_output_review_and_attempts,
    nodes::export_run_renders_the_outputs,
    runners::runners_register_heartbeat_and_the_least_loaded_is_picked,
    runners::silent_runners_are_reaped,
    runners::heartbeat_lists_executions_to_stop,
    runners::process_runners_are_refused_unless_allowed,
    access::every_public_call_needs_an_active_token,
    access::another_projects_run_is_not_found,
    access::roles_limit_what_a_token_does,
    access::admins_make_projects_and_tokens_and_revocation_takes_effect,
    access::the_audit_trail_names_who_created_cancelled_and_exported,
    caps::settings_over_a_cap_are_invalid_arguments,
    caps::a_project_at_its_caps_starts_no_run,
    caps::watch_streams_past_a_tokens_cap_are_refused,
    steer::directives_are_recorded_with_their_author_in_order,
    steer::directives_the_run_cannot_take_are_refused_with_the_reason,
    steer::a_fork_of_a_finished_run_s_node_is_a_new_queued_run,
);
