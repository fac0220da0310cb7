import ServiceLifecycle
import SluiceProviders

/// Owns the shared upstream client and closes its idle connections after the server has stopped serving.
struct UpstreamClientService: Service {
    let client: UpstreamHTTPClient

    func run() async throws {
        // Wait for graceful shutdown (or cancellation), then close the pooled connections.
        try? await gracefulShutdown()
        await client.shutdown()
    }
}
