# The local two-host lab and its Molecule scenario (lab/, inventory/lab/, molecule/default/,
# docs/lab.md). Everything runs as root: namespaces, a bridge, overlay mounts.

# Host packages the lab itself needs (installed by the targets, not by hand).
LAB_APT_PACKAGES := debootstrap systemd-container apt-cacher-ng iproute2 openssh-client \
                    ca-certificates python3
# Image and apt cache shared by every instance, outside the clone so reruns and CI reuse it.
LAB_CACHE ?= /var/cache/else-lab
export LAB_CACHE

.PHONY: lab lab-deps lab-up lab-down lab-clean lab-status lab-verify bench-logpath molecule \
        molecule-split

lab-deps:
	tools/apt-ensure $(LAB_APT_PACKAGES)

## make lab: hosts, converge, test mail, wait until ELSE finds it, print the WUI address.
## LAB_PROFILE=split make lab: the split layout instead (pfx-in, pfx-out, else, else-front).
lab: lab-deps venv
	lab/make-lab

## make lab-up: only the hosts (no converge), e.g. to work on a role by hand.
lab-up: lab-deps
	python3 lab/lab.py up

lab-down:
	python3 lab/lab.py down

## make lab-clean: lab-down, then drop the cached image and apt cache too.
lab-clean:
	python3 lab/lab.py clean

lab-status:
	python3 lab/lab.py status

## make lab-verify: the testinfra suite Molecule's verify runs (tests/infra), against the
## running `make lab` hosts; LAB_TESTS picks tests, e.g. LAB_TESTS=tests/infra/test_reconcile.py
## (the split profile's suite: LAB_TESTS=tests/infra_split).
LAB_TESTS ?= tests/infra
lab-verify: venv
	lab/testinfra-inventory -i $${LAB_INSTANCE:-lab} .lab/$${LAB_INSTANCE:-lab}/testinfra-inventory.yml
	LAB_INSTANCE=$${LAB_INSTANCE:-lab} $(BIN)/python -m pytest -p no:cacheprovider -ra \
	    --connection=ansible --ansible-inventory=.lab/$${LAB_INSTANCE:-lab}/testinfra-inventory.yml \
	    $(LAB_TESTS)

## make bench-logpath: the sustained line rate one PFX pushes to ELSE with raw/worker lag
## (bench/logpath_rate, prints figures; needs `make lab`). Two PFX: `LAB_EXTRA_PFX=1 make lab`,
## then `make bench-logpath BENCH_PFX=pfx,pfx2`.
BENCH_PFX ?= pfx
bench-logpath: venv
	$(BIN)/python bench/logpath_rate --hosts $(BENCH_PFX)

# `make test` ends with the Molecule scenarios: the default one (8-10 min on 2 cores), then the
# split layout's (see docs/lab.md for both).
TEST_EXTRA += molecule molecule-split

## make molecule: the default scenario (create, converge, idempotence, verify, destroy) on the
## "mol" instance (198.18.0.128/26), which can run while the user's lab is up.
molecule: lab-deps venv
	cd $(CURDIR) && PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/molecule test -s default

## make molecule-split: the split layout's scenario (molecule/split: pfx-in, pfx-out, the ELSE
## backend and frontend) on the "mols" instance (198.18.0.192/26), beside "mol" and the lab.
molecule-split: lab-deps venv
	cd $(CURDIR) && PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/molecule test -s split
