// Downloads files in the background and reports progress.
import Foundation

public protocol DownloadDelegate: AnyObject {
    func downloader(_ downloader: Downloader, didFinish url: URL)
}

/// Downloads one URL at a time.
public final class Downloader {
    public weak var delegate: DownloadDelegate?
    private var session: URLSession

    public init(session: URLSession = .shared) {
        self.session = session
    }

    /// Starts downloading `url`.
    public func start(_ url: URL, priority: Float = 0.5) async throws -> Data {
        let (data, _) = try await session.data(from: url)
        return data
    }

    private func log(_ message: String) {
        print(message)
    }
}

public struct Progress {
    public let received: Int64
    public let expected: Int64
}

public enum DownloadError: Error {
    case cancelled
    case failed(String)
}

extension Downloader: CustomStringConvertible {
    public var description: String { "Downloader" }
}

func formatBytes(_ count: Int64) -> String {
    return "\(count) B"
}
