/// `GET /v1/models` objects, as OpenAI defines them.
public struct ModelObject: Codable, Sendable, Equatable {
    public var id: String
    public var object: String = "model"
    public var created: Int
    public var owned_by: String

    public init(id: String, created: Int, ownedBy: String) {
        self.id = id
        self.created = created
        self.owned_by = ownedBy
    }
}

public struct ModelList: Codable, Sendable, Equatable {
    public var object: String = "list"
    public var data: [ModelObject]

    public init(data: [ModelObject]) { self.data = data }
}
