using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace TlsScope.Sources.Tls.Keys.Layout;

/// <summary>
/// The JSON form of a <see cref="KeyLayout"/>, used by the cache, the known-layout table and the
/// calibration helper's stdout:
/// <c>{"origin":"...","slots":[{"kind":"ClientRandom","path":"0x138","size":32}, ...]}</c>;
/// a slot read during the handshake has <c>"phase":"handshake"</c>.
/// </summary>
public static class KeyLayoutJson
{
    // Paths use '>', which the default encoder would escape.
    private const string HandshakePhase = "handshake";

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Write(KeyLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return ToNode(layout).ToJsonString(Options);
    }

    public static JsonObject ToNode(KeyLayout layout)
    {
        var slots = new JsonArray();
        foreach (var s in layout.Slots)
        {
            var slot = new JsonObject { ["kind"] = s.Kind.ToString(), ["path"] = s.Path.ToString(), ["size"] = s.Size };
            if (s.Mask != 0)
            {
                slot["mask"] = s.Mask;
            }

            if (s.Phase == SlotPhase.Handshake)
            {
                slot["phase"] = HandshakePhase;
            }

            slots.Add(slot);
        }
        return new JsonObject { ["origin"] = layout.Origin, ["slots"] = slots };
    }

    /// <exception cref="FormatException">Not a valid layout; the message is one line.</exception>
    public static KeyLayout Read(string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new FormatException($"key layout is not JSON ({e.Message.Split('\n')[0]})");
        }
        return FromNode(node);
    }

    public static KeyLayout FromNode(JsonNode? node)
    {
        try
        {
            var origin = (string?)node?["origin"] ?? "";
            var slots = new List<KeySlot>();
            foreach (var s in node?["slots"]?.AsArray() ?? throw new FormatException("key layout has no slots"))
            {
                slots.Add(ReadSlot(s));
            }

            return new KeyLayout(origin, slots);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or JsonException)
        {
            throw new FormatException($"bad key layout: {e.Message.Split('\n')[0]}");
        }
    }

    private static KeySlot ReadSlot(JsonNode? s)
    {
        var kindText = (string?)s?["kind"];
        if (!Enum.TryParse<SlotKind>(kindText, out var kind))
        {
            throw new FormatException($"bad key layout: unknown slot kind '{kindText}'");
        }

        if (!KeyPath.TryParse((string?)s?["path"], out var path))
        {
            throw new FormatException($"bad key layout: slot {kind} has a bad path");
        }

        var phase = (string?)s?["phase"] switch
        {
            null => SlotPhase.Established,
            HandshakePhase => SlotPhase.Handshake,
            var other => throw new FormatException($"bad key layout: slot {kind} has an unknown phase '{other}'"),
        };
        return new KeySlot(kind, path, (int?)s?["size"] ?? 0, (byte?)s?["mask"] ?? 0, phase);
    }
}
