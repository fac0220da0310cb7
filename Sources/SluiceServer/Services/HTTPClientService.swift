import AsyncHTTPClient
import ServiceLifecycle

/// Owns the shared upstream HTTP client and shuts it down after the server has stopped serving.
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        // Wait for graceful shutdown (or cancellation), then release connections and threads.
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
