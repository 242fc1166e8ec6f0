using TlsScope.Bpf;

namespace TlsScope.Engine.Model;

/// <summary>A traced process executed a program: <see cref="Process"/> is already the new program
/// (its name), <see cref="Executable"/> the file it runs, <see cref="Filename"/> the path as given
/// to execve (relative ones are relative to the process's working directory).</summary>
public sealed record ExecEvent(long TimeUnixNs, ProcessInfo Process, FileIdentity Executable, string Filename, int OldPid);
