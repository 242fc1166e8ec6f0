using System.Runtime.InteropServices;
using TlsScope.Bpf.Native;

namespace TlsScope.Bpf;

/// <summary>libbpf finds tracepoint ids in tracefs, which a fresh machine may not have mounted.</summary>
public static class Tracefs
{
    private const string Path = "/sys/kernel/tracing";

    public static bool IsMounted => File.Exists($"{Path}/events/syscalls/sys_enter_read/id")
        || File.Exists("/sys/kernel/debug/tracing/events/syscalls/sys_enter_read/id");

    /// <summary>Mounts tracefs at /sys/kernel/tracing unless a tracefs is already there.</summary>
    public static void EnsureMounted()
    {
        if (IsMounted)
        {
            return;
        }

        if (Libc.Mount("nodev", Path, "tracefs", 0, 0) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != 16 /* EBUSY: already mounted */)
            {
                throw BpfException.FromErrno($"mount tracefs at {Path}", errno, "mount it by hand: mount -t tracefs nodev " + Path);
            }
        }
    }
}
