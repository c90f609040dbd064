# roadlog — make test installs what the tests need (apt-get, npm) and runs them.
GO ?= go

.PHONY: test unit build vet gpu clean

test: ## install test dependencies, then vet and run every test
	./scripts/deps.sh
	$(GO) vet ./...
	$(GO) test -timeout 20m ./...
	# tests that catch unguarded shared state only under the race detector
	$(GO) test -race -run 'Stats|Concurrent' ./acquire/can/ ./acquire/camera/ ./internal/box/

unit: ## run the tests without installing anything (tests needing tools skip)
	$(GO) test ./...

build:
	CGO_ENABLED=0 $(GO) build -o roadlog ./cmd/roadlog

vet:
	$(GO) vet ./...

gpu: ## build bin/libroadlog_gpu.so (the CUDA engine) with nvcc; ARCHS="90" builds for one GPU only
	$(MAKE) -C detect/gpu/cuda OUT=$(CURDIR)/bin

clean:
	rm -rf roadlog .cache
