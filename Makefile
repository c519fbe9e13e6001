.PHONY: test build

# The race detector needs cgo and a C compiler; without one the tests still run, without it.
RACE := $(shell command -v $$(go env CC) >/dev/null 2>&1 && [ "$$(go env CGO_ENABLED)" = 1 ] && echo -race)

test:
	@[ -n "$(RACE)" ] || echo "note: no C compiler found, so the tests run without the race detector (apt-get install gcc)"
	go vet ./... && go test $(RACE) -count=1 ./...

build:
	CGO_ENABLED=0 go build -o renkei ./cmd/renkei
