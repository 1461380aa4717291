"""``fsm``: the operator's command line (the console script ``fsm``, see `fsm.main`).

main.py      the parser: the commands below, then each ``services/<name>/cli.py``'s
common.py    what every command uses: configuration, CliError and exit codes, tables, progress,
             the broker's view of the services, tokens, the bench scripts
commands.py  the commands that are no one service's: geocode, token, migrate
dead_letters.py  ``fsm dead-letters list|replay``
demo.py      ``fsm demo``: the platform in-process, each ``services/<name>/demo.py``'s part, the report
"""
