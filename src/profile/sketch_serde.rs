//! Serde adapters that store DataSketches sketches in their own (cross-language) binary format.

use datasketches::frequencies::FrequentItemsSketch;
use serde::{Deserializer, Serializer};

pub mod freq_str {
    use super::*;

    pub fn serialize<S: Serializer>(
        s: &FrequentItemsSketch<String>,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        ser.serialize_bytes(&s.serialize())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<FrequentItemsSketch<String>, D::Error> {
        let bytes: Vec<u8> = serde_bytes_vec(de)?;
        FrequentItemsSketch::<String>::deserialize(&bytes).map_err(serde::de::Error::custom)
    }
}

pub mod freq_num {
    use super::*;

    pub fn serialize<S: Serializer>(
        s: &FrequentItemsSketch<i64>,
        ser: S,
    ) -> Result<S::Ok, S::Error> {
        ser.serialize_bytes(&s.serialize())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<FrequentItemsSketch<i64>, D::Error> {
        let bytes: Vec<u8> = serde_bytes_vec(de)?;
        FrequentItemsSketch::<i64>::deserialize(&bytes).map_err(serde::de::Error::custom)
    }
}

pub(crate) fn serde_bytes_vec<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<u8>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = seq.next_element::<u8>()? {
                out.push(b);
            }
            Ok(out)
        }
    }
    de.deserialize_bytes(V)
}
