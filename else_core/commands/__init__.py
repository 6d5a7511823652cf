"""Sub-commands of `elsectl`, one module each.

Every module here defines ``register(subparsers)`` which adds its parser(s) and sets
``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit
code). The CLI discovers the modules by listing this package, so a new command is a
new file and nobody edits a shared list.
"""
