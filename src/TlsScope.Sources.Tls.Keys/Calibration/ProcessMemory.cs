using System.Globalization;
using Microsoft.Win32.SafeHandles;

namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// Reads a process's memory through /proc/PID/mem: a wild pointer gives an I/O error instead of
/// a crash. The readable mappings are taken from /proc/PID/maps once, at construction.
/// </summary>
public sealed class ProcessMemory : IProcessMemory, IDisposable
{
    private readonly SafeFileHandle _mem;
    private readonly (ulong Start, ulong End)[] _readable;

    public ProcessMemory(int pid)
    {
        _mem = File.OpenHandle($"/proc/{pid}/mem", FileMode.Open, FileAccess.Read);
        _readable = ReadableRanges(File.ReadAllLines($"/proc/{pid}/maps"));
    }

    public static ProcessMemory Self() => new(Environment.ProcessId);

    public int Read(ulong address, Span<byte> buffer)
    {
        var end = RangeEnd(address);
        if (end == 0 || buffer.IsEmpty)
        {
            return 0;
        }

        var want = (int)Math.Min((ulong)buffer.Length, end - address);
        try
        {
            var total = 0;
            while (total < want)
            {
                var n = RandomAccess.Read(_mem, buffer[total..want], (long)(address + (ulong)total));
                if (n <= 0)
                {
                    break;
                }

                total += n;
            }
            return total;
        }
        catch (IOException)
        {
            return 0; // unmapped since the maps were read
        }
    }

    public bool IsReadable(ulong address) => RangeEnd(address) != 0;

    public void Dispose() => _mem.Dispose();

    /// <summary>End of the readable run of mappings holding <paramref name="address"/>, or 0.</summary>
    private ulong RangeEnd(ulong address)
    {
        int lo = 0, hi = _readable.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            if (address < _readable[mid].Start)
            {
                hi = mid - 1;
            }
            else if (address >= _readable[mid].End)
            {
                lo = mid + 1;
            }
            else
            {
                return _readable[mid].End;
            }
        }
        return 0;
    }

    // Adjacent readable mappings are merged, so a read may cross from one into the next.
    private static (ulong, ulong)[] ReadableRanges(string[] maps)
    {
        var ranges = new List<(ulong Start, ulong End)>();
        foreach (var line in maps)
        {
            var fields = line.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2 || fields[1].Length == 0 || fields[1][0] != 'r' || line.EndsWith("[vvar]", StringComparison.Ordinal))
            {
                continue;
            }

            var dash = fields[0].IndexOf('-');
            if (dash < 0
                || !ulong.TryParse(fields[0].AsSpan(0, dash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var start)
                || !ulong.TryParse(fields[0].AsSpan(dash + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var end))
            {
                continue;
            }

            if (ranges.Count > 0 && ranges[^1].End == start)
            {
                ranges[^1] = (ranges[^1].Start, end);
            }
            else
            {
                ranges.Add((start, end));
            }
        }
        return ranges.ToArray();
    }
}
