//! JSON through the browser's own `JSON.parse`/`JSON.stringify`: the widget
//! carries no JSON library (serde_json's parser and serializer were 8.3 KB brotli,
//! its `Value` for the brand another 1.x KB; BENCHMARKS.md). Answers are read by the contract's
//! [`FromJson`](dots_shared::read::FromJson) readers through [`Js`]; requests, the
//! contract's `Serialize` types, become JavaScript objects through [`to_js`].

use dots_shared::read::Json;
use js_sys::{Array, Object, Reflect};
use serde::ser::{self, Serialize};
use wasm_bindgen::{JsCast, JsValue};

/// A parsed JSON value from the browser, as the contract's readers see it.
pub struct Js(pub JsValue);

impl Json for Js {
    fn field(&self, name: &str) -> Option<Js> {
        if !self.0.is_object() || Array::is_array(&self.0) {
            return None;
        }
        Reflect::get(&self.0, &name.into()).ok().map(Js)
    }

    fn string(&self) -> Option<String> {
        self.0.as_string()
    }

    fn boolean(&self) -> Option<bool> {
        self.0.as_bool()
    }

    fn integer(&self) -> Option<i64> {
        let n = self.0.as_f64()?;
        // JSON numbers are doubles here: whole ones within 2^53 are exact.
        (n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0).then_some(n as i64)
    }

    fn is_null(&self) -> bool {
        self.0.is_null() || self.0.is_undefined()
    }

    fn items(&self) -> Option<Vec<Js>> {
        let array = self.0.dyn_ref::<Array>()?;
        Some(array.iter().map(Js).collect())
    }
}

/// `JSON.parse`; `null` for text that is not JSON.
pub fn parse(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap_or(JsValue::NULL)
}

/// `JSON.stringify`.
pub fn stringify(value: &JsValue) -> String {
    js_sys::JSON::stringify(value).ok().and_then(|s| s.as_string()).unwrap_or_default()
}

/// A JavaScript object from its fields (the messages to the host page).
pub fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in fields {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// A request body: the contract's `Serialize` type as a JavaScript object, field
/// for field what serde_json would write (the same derive decides names and
/// omissions). Only what requests hold is supported: structs, strings, whole
/// numbers, booleans and options; anything else is `None`.
pub fn to_js<T: Serialize>(value: &T) -> Option<JsValue> {
    value.serialize(ToJs).ok()
}

/// Why a value could not become a request body (no message: it names a bug).
#[derive(Debug)]
pub struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unsupported")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_: T) -> Unsupported {
        Unsupported
    }
}

struct ToJs;

/// A struct being written: its object.
pub struct Fields(Object);

impl ser::SerializeStruct for Fields {
    type Ok = JsValue;
    type Error = Unsupported;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<(), Unsupported> {
        Reflect::set(&self.0, &key.into(), &value.serialize(ToJs)?).map_err(|_| Unsupported)?;
        Ok(())
    }

    fn end(self) -> Result<JsValue, Unsupported> {
        Ok(self.0.into())
    }
}

type No = ser::Impossible<JsValue, Unsupported>;

impl ser::Serializer for ToJs {
    type Ok = JsValue;
    type Error = Unsupported;
    type SerializeSeq = No;
    type SerializeTuple = No;
    type SerializeTupleStruct = No;
    type SerializeTupleVariant = No;
    type SerializeMap = No;
    type SerializeStruct = Fields;
    type SerializeStructVariant = No;

    fn serialize_bool(self, v: bool) -> Result<JsValue, Unsupported> {
        Ok(v.into())
    }
    fn serialize_i8(self, v: i8) -> Result<JsValue, Unsupported> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<JsValue, Unsupported> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<JsValue, Unsupported> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<JsValue, Unsupported> {
        Ok((v as f64).into())
    }
    fn serialize_u8(self, v: u8) -> Result<JsValue, Unsupported> {
        self.serialize_i64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<JsValue, Unsupported> {
        self.serialize_i64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<JsValue, Unsupported> {
        self.serialize_i64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<JsValue, Unsupported> {
        Ok((v as f64).into())
    }
    fn serialize_f32(self, _: f32) -> Result<JsValue, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_f64(self, _: f64) -> Result<JsValue, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_char(self, v: char) -> Result<JsValue, Unsupported> {
        Ok(JsValue::from_str(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<JsValue, Unsupported> {
        Ok(v.into())
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<JsValue, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_none(self) -> Result<JsValue, Unsupported> {
        Ok(JsValue::NULL)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<JsValue, Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<JsValue, Unsupported> {
        Ok(JsValue::NULL)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<JsValue, Unsupported> {
        Ok(JsValue::NULL)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<JsValue, Unsupported> {
        Ok(variant.into())
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, v: &T) -> Result<JsValue, Unsupported> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<JsValue, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<No, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple(self, _: usize) -> Result<No, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<No, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<No, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<No, Unsupported> {
        Err(Unsupported)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields, Unsupported> {
        Ok(Fields(Object::new()))
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<No, Unsupported> {
        Err(Unsupported)
    }
}
