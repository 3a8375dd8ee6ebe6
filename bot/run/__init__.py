"""The run stage: what a task run is (model, context, parameters), how it runs its criteria
(actions, runner, taskrun), what it remembers (journal), who watches it (observe), and the
report it ends with."""
