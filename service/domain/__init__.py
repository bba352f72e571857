"""What the routes do, free of HTTP: each function takes the app state and plain values.

Database work runs in one transaction on the database thread; queued work goes to the
dispatcher only after that transaction committed.
"""
