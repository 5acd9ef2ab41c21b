"""The user's input files, in one place: how each is read safely (`files`: size, encoding, no
FIFOs, one line naming the file and line when bad), the roster and ties files (`roster`), the
spreadsheet-safe cells of every CSV (`spreadsheet`), an organisation written back out as files
(`export`), and what a configuration's inputs need (`loading`: load once, check before a sweep,
digests). The packaged inputs themselves are in sim/data/.
"""
