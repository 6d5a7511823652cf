# Ansible roles and playbooks (roles/, playbooks/, inventory/example*/): lint and syntax check.
# The converge itself is exercised by `make lab` and the Molecule scenario (mk/lab.mk).

.PHONY: ansible-lint

TEST_EXTRA += ansible-lint

## make ansible-lint: ansible-lint (production profile) on every role and playbook, then a syntax
## check of site.yml against the example inventories (a real multi-PFX shape; the split layout).
ansible-lint: venv
	$(BIN)/ansible-lint --profile production --offline roles/ playbooks/ inventory/example/ inventory/example-split/
	ANSIBLE_CONFIG=$(CURDIR)/ansible.cfg $(BIN)/ansible-playbook --syntax-check \
	    -i inventory/example playbooks/site.yml
	ANSIBLE_CONFIG=$(CURDIR)/ansible.cfg $(BIN)/ansible-playbook --syntax-check \
	    -i inventory/example-split playbooks/site.yml
