import Foundation
import SluiceCore

/// Every provider manifest, loaded once at startup.
public struct ProviderCatalog: Sendable {
    public private(set) var providers: [String: ProviderManifest]

    public init(_ manifests: [ProviderManifest]) throws(ManifestError) {
        var providers: [String: ProviderManifest] = [:]
        for manifest in manifests {
            guard providers[manifest.id] == nil else {
                throw ManifestError(file: manifest.id, problem: "provider id \(manifest.id) is defined twice")
            }
            providers[manifest.id] = manifest
        }
        self.providers = providers
    }

    /// Loads every `*.json` file in `directory`. Any invalid file stops the start with its name.
    public static func load(directory: String) throws(ManifestError) -> ProviderCatalog {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".json") }.sorted()
        } catch {
            throw ManifestError(file: directory, problem: "cannot read the providers directory")
        }
        var manifests: [ProviderManifest] = []
        for file in files {
            let path = (directory as NSString).appendingPathComponent(file)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ManifestError(file: path, problem: "cannot read the file")
            }
            manifests.append(try ProviderManifest.parse(data, file: path))
        }
        return try ProviderCatalog(manifests)
    }

    public func adding(_ manifest: ProviderManifest) throws(ManifestError) -> ProviderCatalog {
        try ProviderCatalog(Array(providers.values) + [manifest])
    }

    public subscript(id: String) -> ProviderManifest? { providers[id] }
}
