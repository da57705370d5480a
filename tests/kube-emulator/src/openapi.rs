//! `/openapi/v2`: kubectl fetches it as a protobuf-encoded gnostic `openapi_v2.Document` before
//! create and apply, and fails if it does not parse. A minimal valid document (swagger version,
//! info, empty paths and definitions) is enough: kubectl skips schema validation for kinds the
//! document does not describe.

/// Appends a length-delimited protobuf field.
fn field(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
    out.push((number << 3) | 2);
    let mut len = bytes.len();
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(bytes);
}

pub fn v2_document() -> Vec<u8> {
    let mut info = Vec::new();
    field(&mut info, 1, b"kube-emulator");
    field(&mut info, 2, b"v1.33.0");
    let mut doc = Vec::new();
    field(&mut doc, 1, b"2.0");
    field(&mut doc, 2, &info);
    field(&mut doc, 8, &[]);
    field(&mut doc, 9, &[]);
    doc
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_fields_with_their_lengths() {
        let doc = super::v2_document();
        assert_eq!(&doc[..5], &[0x0a, 3, b'2', b'.', b'0']);
        assert_eq!(doc[5], 0x12);
        assert!(doc.ends_with(&[0x42, 0, 0x4a, 0]));
    }
}
