.PHONY: test build

test:
	go vet ./... && go test -race -count=1 ./...

build:
	CGO_ENABLED=0 go build -o renkei ./cmd/renkei
