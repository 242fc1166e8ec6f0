namespace TlsScope.Protocols.Hpack;

/// <summary>
/// The Huffman code of RFC 7541 Appendix B, decode side only.
/// <para>
/// The appendix's code is canonical: ordering the symbols by (code length, symbol value) and
/// counting upwards gives exactly the codes the RFC lists. So only the 257 code lengths are
/// transcribed here and the codes are derived from them once; tests check the derived codes
/// against rows of the appendix and that the code is complete (Kraft sum exactly 1).
/// </para>
/// <para>
/// A binary tree is built once, stored flat in an int array: for internal node n,
/// <c>Tree[2n + bit]</c> is the next internal node (&gt; 0) or a leaf, stored as
/// <c>~symbol</c> (&lt; 0). The root is node 0; a complete code has 256 internal nodes.
/// From it a 4-bit state machine is derived once: the state is the internal node reached so
/// far, and for each (state, nibble) the table gives the next state and at most one symbol
/// (codes are at least 5 bits, so 4 bits can finish one code but not also a second).
/// <see cref="TryDecode"/> uses the nibble table; <see cref="TryDecodeBitwise"/> walks the tree
/// bit by bit and is kept as the reference the tests compare against.
/// </para>
/// <para>
/// Padding needs no bookkeeping: the bits since the last symbol are exactly the path to the
/// current node, so the string may end only at the root or at a node on the all-ones path at
/// depth 1..7 (a proper prefix of EOS).
/// </para>
/// </summary>
public static class HpackHuffman
{
    /// <summary>The end-of-string symbol; it must never appear inside a string.</summary>
    public const int Eos = 256;

    // Code length in bits of symbols 0..256, sixteen per row (RFC 7541 Appendix B).
    private static readonly byte[] Lengths =
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0..15
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16..31
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,         // 32..47   ' '..'/'
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,              // 48..63   '0'..'?'
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,                // 64..79   '@'..'O'
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,             // 80..95   'P'..'_'
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,                // 96..111  '`'..'o'
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,            // 112..127 'p'..DEL
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128..143
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144..159
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160..175
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176..191
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192..207
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208..223
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224..239
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240..255
        30,                                                             // 256 EOS
    ];

    private static readonly uint[] Codes = BuildCodes();
    private static readonly int[] Tree = BuildTree();

    // Nibble transitions, indexed [state * 16 + nibble]:
    // bits 0-7 next state, bits 8-16 symbol, bit 17 "emits symbol", bit 18 "EOS decoded".
    private const int EmitFlag = 1 << 17;
    private const int EosFlag = 1 << 18;
    private static readonly int[] Nibbles = BuildNibbleTable();

    // Per internal node: 0 if a string may end there, else why not (1 = padding too long, 2 = not all ones).
    private static readonly byte[] EndCheck = BuildEndCheck();

    /// <summary>Code length in bits of a symbol (0..256).</summary>
    public static int CodeLength(int symbol) => Lengths[symbol];

    /// <summary>The code of a symbol (0..256), right-aligned in the low <see cref="CodeLength"/> bits.</summary>
    public static uint Code(int symbol) => Codes[symbol];

    private static uint[] BuildCodes()
    {
        var order = new int[Lengths.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        // Stable sort by length keeps symbols of equal length in value order.
        Array.Sort(order, (a, b) => Lengths[a] != Lengths[b] ? Lengths[a].CompareTo(Lengths[b]) : a.CompareTo(b));
        var codes = new uint[Lengths.Length];
        uint code = 0;
        int length = Lengths[order[0]];
        for (int i = 0; i < order.Length; i++)
        {
            int symbol = order[i];
            code <<= Lengths[symbol] - length;
            length = Lengths[symbol];
            codes[symbol] = code;
            code++;
        }

        return codes;
    }

    private static int[] BuildTree()
    {
        // A complete binary code over 257 symbols has 256 internal nodes.
        var tree = new int[2 * 256];
        int nodes = 1;
        for (int symbol = 0; symbol < Lengths.Length; symbol++)
        {
            int length = Lengths[symbol];
            uint code = Codes[symbol];
            int node = 0;
            for (int bit = length - 1; bit >= 0; bit--)
            {
                int slot = 2 * node + (int)((code >> bit) & 1);
                if (bit == 0)
                {
                    if (tree[slot] != 0)
                    {
                        throw new InvalidOperationException("HPACK Huffman table is not a prefix code.");
                    }

                    tree[slot] = ~symbol;
                }
                else
                {
                    if (tree[slot] < 0)
                    {
                        throw new InvalidOperationException("HPACK Huffman table is not a prefix code.");
                    }

                    if (tree[slot] == 0)
                    {
                        if (nodes == 256)
                        {
                            throw new InvalidOperationException("HPACK Huffman table has too many nodes.");
                        }

                        tree[slot] = nodes++;
                    }

                    node = tree[slot];
                }
            }
        }

        return tree;
    }

    private static int[] BuildNibbleTable()
    {
        var table = new int[256 * 16];
        for (int state = 0; state < 256; state++)
        {
            for (int nibble = 0; nibble < 16; nibble++)
            {
                int node = state;
                int entry = 0;
                for (int shift = 3; shift >= 0; shift--)
                {
                    int next = Tree[2 * node + ((nibble >> shift) & 1)];
                    if (next >= 0)
                    {
                        node = next;
                        continue;
                    }

                    int symbol = ~next;
                    if (symbol == Eos)
                    {
                        entry |= EosFlag;
                        break;
                    }

                    if ((entry & EmitFlag) != 0)
                    {
                        throw new InvalidOperationException("HPACK Huffman code shorter than 5 bits.");
                    }

                    entry |= EmitFlag | (symbol << 8);
                    node = 0;
                }

                table[state * 16 + nibble] = entry | node;
            }
        }

        return table;
    }

    private static byte[] BuildEndCheck()
    {
        // Node numbers grow with creation order, so a parent always precedes its children.
        var depth = new int[256];
        var allOnes = new bool[256];
        allOnes[0] = true;
        var check = new byte[256];
        for (int node = 0; node < 256; node++)
        {
            check[node] = node == 0 ? (byte)0 : depth[node] > 7 ? (byte)1 : allOnes[node] ? (byte)0 : (byte)2;
            for (int bit = 0; bit < 2; bit++)
            {
                int child = Tree[2 * node + bit];
                if (child > 0)
                {
                    depth[child] = depth[node] + 1;
                    allOnes[child] = allOnes[node] && bit == 1;
                }
            }
        }

        return check;
    }

    /// <summary>
    /// Decodes a Huffman-coded string literal into <paramref name="output"/>, which must hold at
    /// least <see cref="MaxDecodedLength"/> bytes (the shortest code is 5 bits).
    /// Rejects EOS inside the string, padding longer than 7 bits and padding that is not all ones
    /// (RFC 7541 Section 5.2). Never throws on any input.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> input, Span<byte> output, out int written, out string? error)
    {
        written = 0;
        int state = 0;
        int[] table = Nibbles;
        foreach (byte b in input)
        {
            for (int half = 0; half < 2; half++)
            {
                int entry = table[(state << 4) | (half == 0 ? b >> 4 : b & 0xF)];
                if ((entry & EosFlag) != 0)
                {
                    error = "Huffman string contains EOS";
                    return false;
                }

                if ((entry & EmitFlag) != 0)
                {
                    if (written >= output.Length)
                    {
                        error = "Huffman output buffer too small";
                        return false;
                    }

                    output[written++] = (byte)(entry >> 8);
                }

                state = entry & 0xFF;
            }
        }

        switch (EndCheck[state])
        {
            case 1:
                error = "Huffman padding longer than 7 bits";
                return false;
            case 2:
                error = "Huffman padding is not all ones";
                return false;
            default:
                error = null;
                return true;
        }
    }

    /// <summary>Bit-by-bit reference decoder with the same contract as <see cref="TryDecode"/>.</summary>
    public static bool TryDecodeBitwise(ReadOnlySpan<byte> input, Span<byte> output, out int written, out string? error)
    {
        written = 0;
        int node = 0;
        int pendingBits = 0;     // bits consumed since the last complete symbol
        bool pendingAllOnes = true;
        int[] tree = Tree;
        foreach (byte b in input)
        {
            for (int shift = 7; shift >= 0; shift--)
            {
                int bit = (b >> shift) & 1;
                int next = tree[2 * node + bit];
                if (next < 0)
                {
                    int symbol = ~next;
                    if (symbol == Eos)
                    {
                        error = "Huffman string contains EOS";
                        return false;
                    }

                    if (written >= output.Length)
                    {
                        error = "Huffman output buffer too small";
                        return false;
                    }

                    output[written++] = (byte)symbol;
                    node = 0;
                    pendingBits = 0;
                    pendingAllOnes = true;
                }
                else
                {
                    node = next;
                    pendingBits++;
                    pendingAllOnes &= bit == 1;
                }
            }
        }

        if (pendingBits > 7)
        {
            error = "Huffman padding longer than 7 bits";
            return false;
        }

        if (!pendingAllOnes)
        {
            error = "Huffman padding is not all ones";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Upper bound of the decoded length of <paramref name="encodedLength"/> Huffman octets.</summary>
    public static int MaxDecodedLength(int encodedLength) => (int)(((long)encodedLength * 8 + 4) / 5);
}
