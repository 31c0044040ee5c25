import Dispatch
import Foundation
import VLPipeline

/// Progress on standard error while a run goes: a redrawn bar on a terminal, a plain line every `interval` seconds
/// otherwise (logs, cron mail), nothing with `--quiet`.
final class ProgressReporter {
    private let timer: any DispatchSourceTimer
    private let queue = DispatchQueue(label: "vlbatch.progress")
    private let terminal: Bool

    /// Starts reporting `statistics()` for the pipeline `name`.
    init(name: String, interval: Double, statistics: @escaping @Sendable () -> RunStatistics) {
        let terminal = isatty(STDERR_FILENO) == 1
        self.terminal = terminal
        timer = DispatchSource.makeTimerSource(queue: queue)
        let period = terminal ? 0.25 : interval
        timer.schedule(deadline: .now() + period, repeating: period)
        timer.setEventHandler {
            let line = Self.line(name: name, statistics(), bar: terminal)
            writeStandardError(terminal ? "\r\u{1B}[K" + line : line + "\n")
        }
        timer.resume()
    }

    /// Stops reporting and clears the bar.
    func finish() {
        timer.cancel()
        // A line being drawn now would land after the clearing and the summary: wait for it.
        queue.sync {}
        if terminal { writeStandardError("\r\u{1B}[K") }
    }

    static func line(name: String, _ statistics: RunStatistics, bar: Bool) -> String {
        let done = statistics.written
        let total = max(statistics.total, 1)
        let seconds = statistics.elapsed.seconds
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let eta = rate > 0 ? duration(Double(statistics.total - done) / rate) : "?"
        let counts = "\(done)/\(statistics.total) (\(statistics.failed) failed)"
        let figures = String(format: "%.1f items/s, ETA %@", rate, eta)
        guard bar else { return "\(name): \(counts), \(figures)" }
        let width = 24
        let filled = done * width / total
        let cells = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        return "\(name) [\(cells)] \(counts) \(figures)"
    }

    /// `42s`, `3m07s`, `5h02m`.
    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm", whole / 3600, whole % 3600 / 60)
    }
}

/// SIGINT and SIGTERM: the first stops taking items and lets those in the engine finish; a second abandons them.
final class SignalTrap {
    private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "vlbatch.signals")
    private var received: Int32?

    /// Routes both signals to `stop` (first) and `abandon` (after).
    init(stop: @escaping @Sendable () -> Void, abandon: @escaping @Sendable () -> Void) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [unowned self] in
                if received == nil {
                    received = signalNumber
                    writeStandardError("\nstopping: finishing items in progress (signal again to stop at once)\n")
                    stop()
                } else {
                    abandon()
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The first signal received, if any.
    var firstSignal: Int32? { queue.sync { received } }

    /// Later signals end the process as usual: the run they would stop is over.
    deinit {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// Writes to standard error without buffering, from any thread.
func writeStandardError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}
