module github.com/rfc6455/websocket/examples/cluster

go 1.26.0

replace (
	github.com/rfc6455/websocket => ../..
	github.com/rfc6455/websocket/adapters/nats => ../../adapters/nats
	github.com/rfc6455/websocket/adapters/redis => ../../adapters/redis
)

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/rfc6455/websocket v0.0.0-00010101000000-000000000000
	github.com/rfc6455/websocket/adapters/nats v0.0.0-00010101000000-000000000000
	github.com/rfc6455/websocket/adapters/redis v0.0.0-00010101000000-000000000000
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/klauspost/compress v1.20.0 // indirect
	github.com/nats-io/nats.go v1.55.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
