// swift-tools-version:6.1
import PackageDescription

// Every dependency below is a well-kept library doing a job we should not write ourselves.
let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
    ],
    dependencies: [
        // HTTP server for /v1 and /api: routing, typed request contexts, streaming response bodies.
        // Default traits are off: we need neither swift-configuration nor the full-Foundation extras.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        // The tests' HTTP client, speaking to the gateway as an SDK would (streaming, keep-alive).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // TLS for upstream connections (the upstream client is Sluice's own, on NIO).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Embedded store: SQLite with WAL, a connection pool and serialized write transactions.
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // SHA-256 for API-key hashes and AES-GCM for account secrets at rest. 4.x is what JWTKit needs.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // Signing and verifying the /api access tokens (HS256 JWT, claims checked by the library).
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        // Password hashing: bcrypt with a configurable cost (HummingbirdBcrypt).
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // The `sluice` command line: serve, migrate, users, keys, accounts, credits.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // Structured logging everywhere.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // Graceful start and shutdown of the server, the HTTP client and the settlement writer.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Reading config/sluice.yaml.
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        // Event loops, byte buffers and HTTP/1.1 framing, shared by the server and the upstream client.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // `HTTPRequestPart`, the type of the server pipeline's parts after Hummingbird's codec, for
        // the handler that times out slow request bodies (already a dependency of Hummingbird).
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.24.0"),
        // HTTP field names and statuses, the vocabulary Hummingbird's requests and responses use.
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // `/metrics`: the Prometheus text format (names, labels, escaping, HELP and TYPE lines).
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The scale-out store: PostgreSQL's wire protocol, a connection pool that runs as a Service,
        // typed binds and transactions.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Traces: the span API a request and its upstream attempts are recorded with.
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // Exporting those spans over OTLP/HTTP (protobuf or JSON) with a batching processor that
        // runs as a Service. Only the HTTP exporter: the gRPC one would build gRPC for nothing.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        // File uploads: a streaming multipart/form-data parser, so an upload is parsed as it
        // arrives and refused as soon as it passes the size limit.
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        // The MCP server (/mcp over Streamable HTTP, `sluice mcp` over stdio): the protocol's
        // messages, lifecycle and transports, from the protocol's own SDK.
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
    ],
    targets: [
        // Domain rules with no I/O: wire types, errors, money, SSE, selection, cooldowns, holds.
        .target(name: "SluiceCore"),
        // Provider manifests, the upstream HTTP client, and the adapters that speak to providers over it.
        .target(
            name: "SluiceProviders",
            dependencies: [
                "SluiceCore",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Durable state behind protocols: the SQLite and PostgreSQL stores and their migration runners.
        .target(
            name: "SluiceStore",
            dependencies: [
                "SluiceCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A real loopback HTTP server that speaks the OpenAI wire format: the demo upstream and
        // the test double for providers, with switches for 429s, 500s, hangs and broken streams.
        .target(
            name: "SluiceMockUpstream",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // libhiredis, from Debian's libhiredis-dev: its reader parses Redis's replies (RESP).
        // Its header is <hiredis/hiredis.h> under /usr/include, so no pkg-config flags are needed.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        // Shared state for several instances: an async Redis client (pipelined connections on
        // NIO, replies parsed by hiredis, timeouts, reconnects), and the Redis implementations of
        // the core's shared-state protocols (credit holds, rate windows, cluster events).
        .target(
            name: "SluiceRedis",
            dependencies: [
                "CHiredis", "SluiceCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // buildApplication(config:): routes, middleware, request contexts, services.
        .target(
            name: "SluiceServer",
            dependencies: [
                "SluiceCore", "SluiceProviders", "SluiceStore", "SluiceRedis", "SluiceMockUpstream",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // STARTTLS for the mail outbox's SMTP client.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "MCP", package: "swift-sdk"),
            ]
        ),
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceServer", "SluiceStore", "SluiceCore", "SluiceProviders", "SluiceMockUpstream",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            // Release builds link with lld (shipped with the Swift toolchain) so that relative
            // relocations are packed (DT_RELR, glibc 2.36 or later). With the Swift runtime
            // linked in, gold wrote 3.7 MB of them, read and applied at every start: packing took
            // idle memory from about 47 to 39.5 MiB (docs/benchmarks.md).
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(configuration: .release))
            ]
        ),
        // What the store and server tests share: the stores to test against, and a fresh
        // PostgreSQL schema per test.
        .target(
            name: "SluiceTestSupport",
            dependencies: [
                "SluiceCore", "SluiceStore", "SluiceRedis",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                // The loopback CONNECT proxy that per-account proxy tests tunnel through.
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/SluiceTestSupport"
        ),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore", "SluiceTestSupport"]),
        .testTarget(
            name: "SluiceRedisTests",
            dependencies: [
                "SluiceRedis", "SluiceTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SluiceProvidersTests",
            dependencies: [
                "SluiceProviders", "SluiceCore", "SluiceTestSupport",
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "SluiceStoreTests",
            dependencies: ["SluiceStore", "SluiceCore", "SluiceTestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "SluiceServerTests",
            dependencies: [
                "SluiceServer", "SluiceMockUpstream", "SluiceStore", "SluiceCore", "SluiceProviders", "SluiceTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                // DiskFullTests caps the SQLite file's size on the gateway's own connection.
                .product(name: "GRDB", package: "GRDB.swift"),
                // The identity provider of ExternalIdentityTests signs its tokens with it.
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
