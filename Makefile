# Few targets, each .PHONY. `make test` is the README's test command and what CI runs.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.Version=$(VERSION)
GO      ?= go

.PHONY: build test lint quickstart quickstart-docker images bench fuzz golden schema refstack clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/recall ./cmd/recall
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/refstack ./cmd/refstack

# Unit, integration and end-to-end tests. The race detector covers the engine, the stack and
# the reports (every package but cmd/recall); cmd/recall's tests are whole drills through the
# command, several times slower under the detector (past 20 minutes on a cold, loaded 2-core
# machine), so they run without it, after the others, as users run the binary.
test:
	$(GO) test -race -timeout 20m $$($(GO) list ./... | grep -v '/cmd/recall$$')
	$(GO) test -timeout 20m ./cmd/recall

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

quickstart:
	$(GO) run ./cmd/recall run scenarios/quickstart.yaml

quickstart-docker:
	$(GO) run ./cmd/recall run --runtime docker scenarios/quickstart.yaml

images:
	$(GO) run ./cmd/recall images

refstack:
	$(GO) run ./cmd/refstack

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Each fuzzer for FUZZTIME (go test runs their seed corpus, testdata/fuzz, on every `make test`).
# A failing input is written to the package's testdata/fuzz/FuzzX/: commit it with the fix.
FUZZTIME ?= 30s
FUZZERS := ./internal/scenario:FuzzParse ./internal/expect:FuzzParse ./internal/expect:FuzzJSONCond \
	./internal/drill:FuzzProbe ./internal/source:FuzzParseClaims
fuzz:
	@set -e; for f in $(FUZZERS); do pkg=$${f%%:*}; fn=$${f##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg; done

golden:
	$(GO) test ./report/... -update

schema:
	$(GO) generate ./internal/scenario

clean:
	rm -rf bin reports
	$(GO) run ./cmd/recall cleanup
