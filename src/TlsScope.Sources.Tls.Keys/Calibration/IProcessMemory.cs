namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>Another (or this) process's memory, read without trusting any address.</summary>
public interface IProcessMemory
{
    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes at <paramref name="address"/>,
    /// stopping at the end of readable memory; returns the count (0 when unreadable).</summary>
    int Read(ulong address, Span<byte> buffer);

    /// <summary>True when <paramref name="address"/> lies in a readable mapping.</summary>
    bool IsReadable(ulong address);
}
