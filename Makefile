# Thin aliases keeping the original's habits; npm scripts do the work.
.PHONY: all build certs sd-setup sd-test-setup test bench demo lint
all: build
build:
	npm run build
certs:
	npm run certs -- --force
sd-setup:
	npm run sd-setup
sd-test-setup:
	npm run sd-setup -- settings/test/directory
test:
	npm test
bench:
	npm run bench
demo:
	npm run demo
lint:
	npm run lint
