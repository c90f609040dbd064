# roadlog — make test installs what the tests need (apt-get, npm) and runs them.
GO ?= go

.PHONY: test unit build vet gpu clean

test: ## install test dependencies, then vet and run every test
	./scripts/deps.sh
	$(GO) vet ./...
	$(GO) test -timeout 20m ./...

unit: ## run the tests without installing anything (tests needing tools skip)
	$(GO) test ./...

build:
	CGO_ENABLED=0 $(GO) build -o roadlog ./cmd/roadlog

vet:
	$(GO) vet ./...

clean:
	rm -rf roadlog .cache
