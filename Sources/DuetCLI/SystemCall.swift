#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The C library's `open`, `read` and `write` under names of their own: `Terminal` has methods
/// called `open` and `write`, which hide the C functions inside it. Spelled `Glibc.open` before,
/// which compiled only against glibc; these resolve to whichever C library the platform has.
enum SystemCall {
    static func open(_ path: String, _ flags: Int32) -> Int32 { cOpen(path, flags) }
    /// With the mode a created file gets (before the umask).
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { cOpen(path, flags, mode) }

    static func read(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { cRead(descriptor, buffer, count) }
    static func write(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { cWrite(descriptor, buffer, count) }
}

// At file scope `open`, `read` and `write` are the C library's.
private func cOpen(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }
private func cOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func cRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { read(descriptor, buffer, count) }
private func cWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(descriptor, buffer, count) }
