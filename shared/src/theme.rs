//! Theming: an app's brand, a flow's or link's override, and the host page's
//! `appearance` allowlist, resolved into CSS variables for the widget. The server
//! validates brands with the same rules, so what is stored is what renders.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::read::Json;

/// A brand as stored (`/v2/apps/me/settings`, a flow's `theme`, a link's `brand`)
/// and as the widget receives it: every part optional. Stored brands passed the
/// server's check (`apps::brand`); [`Theme::with_brand`] validates each part again.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Brand {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font_family: Option<String>,
    /// Pixels, 0 to [`MAX_RADIUS_PX`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corner_radius: Option<i64>,
    /// `light`, `dark` or `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_scheme: Option<String>,
}

impl Brand {
    /// A stored brand's JSON; a part of another type is left out.
    pub fn from_value(value: &Value) -> Brand {
        let text = |key: &str| value[key].as_str().map(str::to_string);
        Brand {
            name: text("name"),
            logo_url: text("logo_url"),
            primary_color: text("primary_color"),
            background_color: text("background_color"),
            text_color: text("text_color"),
            font_family: text("font_family"),
            corner_radius: value["corner_radius"].as_i64(),
            color_scheme: text("color_scheme"),
        }
    }

    /// `over`'s parts on top of this brand's (a flow's or link's override).
    pub fn with(self, over: &Brand) -> Brand {
        let pick = |mine: Option<String>, theirs: &Option<String>| theirs.clone().or(mine);
        Brand {
            name: pick(self.name, &over.name),
            logo_url: pick(self.logo_url, &over.logo_url),
            primary_color: pick(self.primary_color, &over.primary_color),
            background_color: pick(self.background_color, &over.background_color),
            text_color: pick(self.text_color, &over.text_color),
            font_family: pick(self.font_family, &over.font_family),
            corner_radius: over.corner_radius.or(self.corner_radius),
            color_scheme: pick(self.color_scheme, &over.color_scheme),
        }
    }

    /// The host page's `appearance` (Stripe-style names: `colorPrimary`,
    /// `colorBackground`, `colorText`, `fontFamily`, `borderRadius`, `theme`).
    pub fn from_appearance<J: Json>(appearance: &J) -> Brand {
        let part = |key: &str| appearance.field(key);
        let text = |key: &str| part(key).and_then(|v| v.string());
        Brand {
            primary_color: text("colorPrimary"),
            background_color: text("colorBackground"),
            text_color: text("colorText"),
            font_family: text("fontFamily"),
            corner_radius: part("borderRadius").and_then(|v| v.integer()),
            color_scheme: text("theme"),
            ..Brand::default()
        }
    }
}

/// Light, dark, or the payee's system setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scheme {
    #[default]
    Auto,
    Light,
    Dark,
}

impl Scheme {
    pub fn parse(s: &str) -> Option<Scheme> {
        match s {
            "auto" => Some(Scheme::Auto),
            "light" => Some(Scheme::Light),
            "dark" => Some(Scheme::Dark),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Auto => "auto",
            Scheme::Light => "light",
            Scheme::Dark => "dark",
        }
    }
}

/// The largest corner radius a brand may ask for, in pixels.
pub const MAX_RADIUS_PX: u64 = 24;

/// `#rrggbb`.
pub fn is_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A font-family list: letters, digits, spaces, commas, dashes and quotes; no
/// semicolons, braces or `url(`, so it cannot escape its declaration.
pub fn is_font_family(s: &str) -> bool {
    !s.trim().is_empty()
        && s.len() <= 100
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | ',' | '-' | '\'' | '"'))
}

/// An https image URL without characters that could break out of an attribute.
pub fn is_logo_url(s: &str) -> bool {
    s.starts_with("https://") && s.len() <= 500 && !s.contains(['"', '\'', '<', '>', ' ', '(', ')', '\\'])
}

/// A brand or appearance, resolved. Unknown or invalid keys are ignored here (the
/// server refuses them when a brand is stored; a host's appearance is advisory).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Theme {
    pub name: Option<String>,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub background_color: Option<String>,
    pub text_color: Option<String>,
    pub font_family: Option<String>,
    pub radius_px: Option<u64>,
    pub scheme: Scheme,
}

impl Theme {
    /// Layers a brand (or the host's appearance, [`Brand::from_appearance`]) over
    /// this one; a part that fails its validator is ignored.
    pub fn with_brand(mut self, brand: &Brand) -> Theme {
        let text =
            |value: &Option<String>, ok: fn(&str) -> bool| value.as_deref().filter(|s| ok(s)).map(str::to_string);
        self.name = text(&brand.name, |s| !s.is_empty() && s.chars().count() <= 60).or(self.name);
        self.logo_url = text(&brand.logo_url, is_logo_url).or(self.logo_url);
        self.primary_color = text(&brand.primary_color, is_color).or(self.primary_color);
        self.background_color = text(&brand.background_color, is_color).or(self.background_color);
        self.text_color = text(&brand.text_color, is_color).or(self.text_color);
        self.font_family = text(&brand.font_family, is_font_family).or(self.font_family);
        let radius = brand.corner_radius.and_then(|r| u64::try_from(r).ok()).filter(|r| *r <= MAX_RADIUS_PX);
        self.radius_px = radius.or(self.radius_px);
        self.scheme = brand.color_scheme.as_deref().and_then(Scheme::parse).unwrap_or(self.scheme);
        self
    }

    /// `(name, value)` pairs for `style.setProperty`.
    pub fn css_variables(&self) -> Vec<(&'static str, String)> {
        let mut vars = Vec::new();
        let mut push = |name, value: &Option<String>| {
            if let Some(v) = value {
                vars.push((name, v.clone()));
            }
        };
        push("--dots-primary", &self.primary_color);
        push("--dots-bg", &self.background_color);
        push("--dots-text", &self.text_color);
        push("--dots-font", &self.font_family);
        if let Some(r) = self.radius_px {
            vars.push(("--dots-radius", format!("{r}px")));
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_host_appearance_overrides_the_brand_within_the_allowlist() {
        let brand = json!({"name": "Acme", "primary_color": "#112233", "corner_radius": 8, "color_scheme": "light"});
        let appearance = json!({"colorPrimary": "#abcdef", "borderRadius": 99, "theme": "dark", "fontFamily": "x;}"});
        let theme =
            Theme::default().with_brand(&Brand::from_value(&brand)).with_brand(&Brand::from_appearance(&appearance));
        assert_eq!(theme.primary_color.as_deref(), Some("#abcdef"));
        assert_eq!(theme.radius_px, Some(8), "a radius over the limit is ignored");
        assert_eq!(theme.font_family, None, "a font that could escape its declaration is ignored");
        assert_eq!(theme.scheme, Scheme::Dark);
        assert_eq!(theme.name.as_deref(), Some("Acme"));
        assert!(theme.css_variables().contains(&("--dots-radius", "8px".into())));
    }

    #[test]
    fn an_override_replaces_only_the_parts_it_has() {
        let app = Brand::from_value(&json!({"name": "Acme", "primary_color": "#112233", "corner_radius": 8}));
        let link = Brand::from_value(&json!({"primary_color": "#445566"}));
        let both = app.with(&link);
        assert_eq!(
            (both.name.as_deref(), both.primary_color.as_deref(), both.corner_radius),
            (Some("Acme"), Some("#445566"), Some(8))
        );
    }

    #[test]
    fn validators_refuse_what_could_inject() {
        assert!(is_color("#A0b1C2") && !is_color("red") && !is_color("#12345g"));
        assert!(is_font_family("'Inter', system-ui, sans-serif"));
        assert!(!is_font_family("a;background:url(x)") && !is_font_family("a{}"));
        assert!(is_logo_url("https://cdn.example.com/logo.png"));
        assert!(!is_logo_url("http://x.com/a.png") && !is_logo_url("https://x.com/a\".png"));
    }
}
