"""The restorer leaderboard (`python run_all.py --leaderboard`): every chosen restorer on every task over a
degradation sweep, each cell with its paired interval, ranks shared where intervals overlap.

`run.run_leaderboard` runs the tasks (through harness/runner.py, so stored records are reused and a new
restorer computes only its own cells) and writes `OUT/leaderboard/leaderboard.{json,csv,md}` and plots;
`report.section` renders it in the report.
"""
