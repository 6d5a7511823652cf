"""Settings for the whole suite."""

import os

# elsectl's command server (else_core.launcher) would leave a server process behind every
# test that runs `elsectl search` or `stats` as a subprocess. Only the tests of the server
# itself start one, in a private runtime directory, and stop it by its PID.
os.environ["ELSE_CMD_SERVER"] = "0"
