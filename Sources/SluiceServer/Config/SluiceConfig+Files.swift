import Foundation

extension SluiceConfig {
    /// Users' uploaded files (`/api/files`): where their bytes are kept and how much each may keep.
    public struct Files: Sendable {
        public enum Storage: String, Sendable, CaseIterable {
            /// A directory on this machine: one instance, or instances sharing a volume.
            case local
            /// An S3-compatible object store, for instances on several machines.
            case s3
        }

        public var storage = Storage.local
        /// Empty: `files/` beside the SQLite database.
        public var directory = ""
        public var maxFileBytes = 25 << 20
        public var userQuotaBytes = 1 << 30
        public var s3 = S3()

        public struct S3: Sendable {
            /// `https://s3.<region>.amazonaws.com`, or any S3-compatible server; objects are
            /// addressed path-style, `<endpoint>/<bucket>/<key>`.
            public var endpoint = ""
            public var bucket = ""
            public var region = "us-east-1"
            public var accessKeyID = ""
            public var secretAccessKey = ""
            public var secretAccessKeyFile = ""
            /// Creates the bucket at start when it is missing.
            public var createBucket = false
        }
    }
}

extension ConfigLoader {
    static let fileKeys: [Key] = [
        choice("files.storage", SluiceConfig.Files.Storage.self) { $0.files.storage = $1 },
        string("files.directory") { $0.files.directory = $1 },
        int("files.max_file_bytes", min: 1, max: 1 << 30) { $0.files.maxFileBytes = $1 },
        int("files.user_quota_bytes", min: 0, max: Int.max) { $0.files.userQuotaBytes = $1 },
        url("files.s3.endpoint") { $0.files.s3.endpoint = $1 },
        string("files.s3.bucket") { $0.files.s3.bucket = $1 },
        string("files.s3.region") { $0.files.s3.region = $1 },
        string("files.s3.access_key_id") { $0.files.s3.accessKeyID = $1 },
        string("files.s3.secret_access_key") { $0.files.s3.secretAccessKey = $1 },
        string("files.s3.secret_access_key_file") { $0.files.s3.secretAccessKeyFile = $1 },
        bool("files.s3.create_bucket") { $0.files.s3.createBucket = $1 },
    ]

    /// Reads the S3 secret from its file and checks that an S3 store names what it needs.
    static func finishFiles(_ config: inout SluiceConfig) throws {
        var s3 = config.files.s3
        if s3.secretAccessKey.isEmpty, !s3.secretAccessKeyFile.isEmpty {
            s3.secretAccessKey = try secretFile(s3.secretAccessKeyFile, key: "files.s3.secret_access_key_file")
        }
        if config.files.storage == .s3 {
            for (value, key) in [(s3.endpoint, "endpoint"), (s3.bucket, "bucket"), (s3.accessKeyID, "access_key_id"), (s3.secretAccessKey, "secret_access_key")]
            where value.isEmpty {
                throw Error(description: "files.storage is s3 but files.s3.\(key) is not set")
            }
            // A bucket name is one path segment of every object's URL.
            guard s3.bucket.range(of: #"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"#, options: .regularExpression) != nil else {
                throw Error(description: "files.s3.bucket must be an S3 bucket name (3-63 of a-z, 0-9, . and -), got \(s3.bucket)")
            }
        }
        config.files.s3 = s3
    }
}
