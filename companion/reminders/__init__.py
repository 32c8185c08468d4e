"""Reminders, in one place: `schedule` (rules, occurrences, adherence, the calendar feed),
`firing` (saying a due reminder, following it up, hearing it acknowledged) and `asked` (a
reminder the elder asks for in conversation). The scheduler that ticks them is
`companion.scheduler`."""
