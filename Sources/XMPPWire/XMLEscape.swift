/// Escaping of character data and attribute values for XML 1.0 output (RFC 6120 §11: XMPP streams
/// are XML 1.0 in UTF-8, with the predefined entities and character references only).
///
/// Characters XML 1.0 cannot carry at all (C0 controls other than tab, line feed and carriage
/// return; U+FFFE, U+FFFF) become U+FFFD, so that whatever text the user typed, the output is
/// well-formed and the peer's parser does not close the stream on it.
enum XMLEscape {
    /// Appends `text` as character data: `&`, `<` and `>` escaped (`>` for `]]>`), carriage
    /// return as `&#13;` (a parser would turn a raw one into a line feed).
    static func text(_ text: String, into out: inout String) {
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(valid(scalar))
            }
        }
    }

    /// Appends `value` for a single-quoted attribute: as `text(_:into:)`, plus both quotes, and
    /// tab and line feed as character references (attribute-value normalization would turn raw
    /// ones into spaces).
    static func attribute(_ value: String, into out: inout String) {
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "'": out += "&apos;"
            case "\"": out += "&quot;"
            case "\t": out += "&#9;"
            case "\n": out += "&#10;"
            case "\r": out += "&#13;"
            default: out.unicodeScalars.append(valid(scalar))
            }
        }
    }

    /// The scalar if XML 1.0 allows it (§2.2 `Char`), U+FFFD otherwise.
    static func valid(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: scalar
        default: "\u{FFFD}"
        }
    }
}
