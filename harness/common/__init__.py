"""What every stage needs: the error type, stop signals, host facts, quiet imports, files,
the HTML template environment.

May import: `models.errors` only (the base of the error hierarchy).
"""
