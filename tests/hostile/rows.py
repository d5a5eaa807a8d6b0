"""Issue 21's defect table, row by row, with the tests that reproduce each row (``module::test function``).

Every test named here failed on the code before the fix and passes after; ``test_rows.py`` checks that each
named test exists, so a row cannot lose its test silently.
"""

from __future__ import annotations

ROWS: dict[str, tuple[str, ...]] = {
    "data loss: outputs replace any existing file, the command's own input included": (
        "test_output_policy::test_issue_nir_over_the_runs_checkpoint",
        "test_output_policy::test_issue_fit_over_its_own_sweep",
        "test_output_policy::test_issue_nir_over_a_users_file",
        "test_output_policy::test_issue_simulate_json_into_a_run",
        "test_output_policy::test_output_policy_matrix",
        "test_output_policy::test_an_input_under_another_name_is_refused",
        "test_output_policy::test_import_out_folder_policy",
    ),
    "memory bomb: import bindsnet trusts declared sizes (stride-0 view, zip bomb)": (
        "test_bounded_reads::test_memory_and_zip_bombs_are_refused_before_allocating",
        "test_bounded_reads::test_hostile_bindsnet_file",
    ),
    "silent wrong result: the study cache is trusted as is": (
        "test_study_hostile::test_a_tampered_study_entry_is_recomputed_not_trusted",
        "test_study_hostile::test_a_bad_entry_is_recomputed_with_a_warning",
    ),
    "poisoned cache: a corrupted entry is never recomputed": (
        "test_study_hostile::test_a_tampered_study_entry_is_recomputed_not_trusted",
        "test_study_hostile::test_a_bad_entry_is_recomputed_with_a_warning",
    ),
    "silent wrong result: v3 checkpoint values are not range-checked": (
        "test_checkpoint_values::test_read_checkpoint_refuses_tampered_values",
        "test_checkpoint_values::test_every_command_refuses_tampered_checkpoint",
        "test_checkpoint_values::test_every_command_refuses_as_a_subprocess",
        "test_checkpoint_values::test_v2_checkpoints_are_checked_too",
    ),
    "silent wrong result: a study axis given twice is merged": (
        "test_study_hostile::test_an_axis_given_twice_under_any_spelling_is_refused",
    ),
    "broken claim: a study is not checked before work and exits 0 when every trial failed": (
        "test_study_hostile::test_image_counts_are_checked_before_any_work",
        "test_study_hostile::test_failed_trials_exit_1_saying_how_many_and_where",
    ),
    "crash: write errors (ulimit -f)": (
        "test_write_faults::test_writer_under_file_size_limit",
        "test_write_faults::test_writer_into_read_only_folder",
        "test_write_faults::test_failed_new_run_removes_its_files_and_folder",
        "test_write_faults::test_atomic_write_names_the_file_and_removes_the_folders_it_made",
    ),
    "exhaustion: --scheduler local:1000 on 2 cores": (
        "test_study_hostile::test_local_1000_is_refused_stating_the_cap",
        "test_study_hostile::test_local_is_capped_by_cores",
        "test_study_hostile::test_local_is_capped_by_memory",
    ),
    "traceback: allowed callables in the restricted unpickler raise; .npy header of 10^12 elements": (
        "test_bounded_reads::test_hostile_bindsnet_file",
        "test_bounded_reads::test_hostile_weight_npy",
        "test_bounded_reads::test_hostile_checkpoint_npz",
    ),
    "unclear: messages naming no file or option": (
        "test_bounded_reads::test_hostile_bindsnet_file",
        "test_bounded_reads::test_hostile_labels_file",
        "test_bounded_reads::test_hostile_weight_npy",
        "test_checkpoint_values::test_resume_with_non_json_config_names_file",
        "test_checkpoint_values::test_malicious_pickle_messages_are_whole_printable_lines",
    ),
    "minor: --nu 1e308, verify follows symlinks, --overwrite of a manifest listing ../x, 0-byte lock files, "
    "an empty STUDY.toml, dask's port 8787 warning": (
        "test_checkpoint_values::test_nu_has_an_upper_bound",
        "test_write_faults::test_verify_refuses_a_listed_symlink",
        "test_write_faults::test_verify_refuses_a_listed_folder_symlink",
        "test_write_faults::test_overwrite_refuses_a_manifest_pointing_outside",
        "test_write_faults::test_lock_file_of_kill9_is_cleared_by_the_next_command",
        "test_study_hostile::test_a_study_file_that_sets_nothing_is_refused",
        "test_study_hostile::test_the_local_cluster_takes_no_fixed_dashboard_port",
    ),
    "signals: 'Exception ignored ... SystemExit: 143' on SIGTERM": (
        "test_write_faults::test_signal_inside_a_finaliser_is_quiet_and_still_stops",
        "test_write_faults::test_sigterm_during_export_staging",
        "test_signals::test_cli_sigterm_inside_a_finaliser_exits_143_quietly",
    ),
}
