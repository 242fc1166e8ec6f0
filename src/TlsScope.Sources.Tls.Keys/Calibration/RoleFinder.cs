using TlsScope.Sources.Tls.Keys.Layout;


namespace TlsScope.Sources.Tls.Keys.Calibration;

/// <summary>
/// Finds a byte that tells a server object from a client one, in the connection object or an
/// object it points to: a bit clear in every client and set in every server, not part of anything that looks like a pointer (addresses differ
/// from process to process). The connection object is preferred, then the lowest path.
/// </summary>
public static class RoleFinder
{
    public static KeySlot? Find(IReadOnlyList<Observation> observations)
    {
        ArgumentNullException.ThrowIfNull(observations);
        if (!observations.Any(o => o.Known.IsServer) || observations.All(o => o.Known.IsServer))
        {
            return null;
        }

        var pointers = observations[0].Objects.Select(b => b.Pointer).ToList();
        pointers.Sort((a, b) => (a, b) switch
        {
            (null, null) => 0,
            (null, _) => -1,
            (_, null) => 1,
            _ => KeyPath.Compare(a.Value, b.Value),
        });
        foreach (var pointer in pointers)
        {
            var objects = observations.Select(o => o.Objects.FirstOrDefault(b => b.Pointer == pointer)).ToList();
            if (objects.Any(b => b == null))
            {
                continue;
            }

            if (Find(observations, objects!) is { } found)
            {
                return new KeySlot(SlotKind.Role, pointer?.Then(found.Offset) ?? new KeyPath([found.Offset]), 1, found.Mask);
            }
        }
        return null;
    }

    // Bit by bit: a role bit field often shares its byte with uninitialised padding bits.
    private static (uint Offset, byte Mask)? Find(IReadOnlyList<Observation> observations, List<ObjectBytes> objects)
    {
        var length = objects.Min(b => b.Data.Length);
        for (var off = 0; off < length; off++)
        {
            if (objects.Any(b => b.PointerWords[off / 8]))
            {
                continue;
            }

            var serverOnly = 0xff;
            for (var i = 0; i < objects.Count && serverOnly != 0; i++)
            {
                serverOnly &= observations[i].Known.IsServer ? objects[i].Data[off] : ~objects[i].Data[off];
            }

            if (serverOnly != 0)
            {
                return ((uint)off, (byte)(serverOnly & -serverOnly)); // the lowest such bit
            }
        }
        return null;
    }
}
