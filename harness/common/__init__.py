"""What every stage needs: the error type, stop signals, host facts, quiet imports, files.

May import: `models.errors` only (the base of the error hierarchy).
"""
