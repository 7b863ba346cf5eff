"""What every stage needs: stop signals, host facts, quiet imports, files, the HTML template
environment. The error type every stage raises is `models.errors.SampleGanError`.

May import: `models.errors` only (the base of the error hierarchy).
"""
