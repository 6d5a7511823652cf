# SNMP (roles/snmpd, else_core/snmp): its tests run inside `make pytest` (tests/unit/snmp with
# pysnmp's own agent, tests/integration/snmp with a real snmpd, Postfix and PostgreSQL);
# snmpd, snmp, sudo, postfix and postgresql are already in TEST_APT_PACKAGES; the role's scripts
# run with Debian's /usr/bin/python3, as on a PFX.

TEST_APT_PACKAGES += python3

.PHONY: test-snmp

## make test-snmp: only the SNMP tests (about 50 s, as root).
test-snmp: venv deps-test
	$(BIN)/python -m pytest -q tests/unit/snmp tests/integration/snmp
