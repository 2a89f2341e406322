//! The API schema: the supergraph as clients see it, without the join/link
//! machinery, without type-system-only directives of linked specs, and without
//! `@inaccessible` elements. `@deprecated`, `@specifiedBy` and `@oneOf` stay.

use std::collections::HashSet;

use apollo_compiler::Schema;
use apollo_compiler::ast::{DirectiveList as AstDirectives, DirectiveLocation};
use apollo_compiler::schema::{DirectiveList, ExtendedType};
use apollo_compiler::validation::Valid;

use super::SupergraphError;
use super::links::Links;

pub(crate) fn build(
    supergraph: &Valid<Schema>,
    links: &Links,
) -> Result<Valid<Schema>, SupergraphError> {
    let mut schema: Schema = Schema::clone(supergraph);
    let inaccessible = links.inaccessible();

    // Directive definitions: drop the linked specs' and any custom directive
    // that only applies to the type system (clients cannot use it).
    let mut removed_directives: HashSet<String> = HashSet::new();
    schema.directive_definitions.retain(|name, def| {
        if def.is_built_in() {
            return true;
        }
        let keep = !links.is_machinery_directive(name)
            && name.as_str() != inaccessible
            && def.locations.iter().any(is_executable_location);
        if !keep {
            removed_directives.insert(name.to_string());
        }
        keep
    });
    let drop_directive = |name: &str| removed_directives.contains(name) || name == inaccessible;

    // Types: drop machinery and inaccessible ones.
    let removed_types: HashSet<String> = schema
        .types
        .iter()
        .filter(|(name, ty)| {
            !ty.is_built_in()
                && (links.is_machinery_type(name)
                    || name.starts_with("join__")
                    || name.starts_with("link__")
                    || name.starts_with("core__")
                    || ty.directives().has(&inaccessible))
        })
        .map(|(name, _)| name.to_string())
        .collect();
    schema
        .types
        .retain(|name, _| !removed_types.contains(name.as_str()));

    let hidden = |directives: &AstDirectives| directives.has(&inaccessible);
    for ty in schema.types.values_mut() {
        match ty {
            ExtendedType::Object(object) => {
                let object = object.make_mut();
                strip_component_directives(&mut object.directives, &drop_directive);
                object
                    .implements_interfaces
                    .retain(|i| !removed_types.contains(i.as_str()));
                strip_fields(&mut object.fields, &hidden, &drop_directive);
            }
            ExtendedType::Interface(interface) => {
                let interface = interface.make_mut();
                strip_component_directives(&mut interface.directives, &drop_directive);
                interface
                    .implements_interfaces
                    .retain(|i| !removed_types.contains(i.as_str()));
                strip_fields(&mut interface.fields, &hidden, &drop_directive);
            }
            ExtendedType::Union(union_) => {
                let union_ = union_.make_mut();
                strip_component_directives(&mut union_.directives, &drop_directive);
                union_
                    .members
                    .retain(|m| !removed_types.contains(m.as_str()));
            }
            ExtendedType::Enum(enum_) => {
                let enum_ = enum_.make_mut();
                strip_component_directives(&mut enum_.directives, &drop_directive);
                enum_.values.retain(|_, v| !hidden(&v.directives));
                for value in enum_.values.values_mut() {
                    value
                        .make_mut()
                        .directives
                        .retain(|d| !drop_directive(&d.name));
                }
            }
            ExtendedType::InputObject(input) => {
                let input = input.make_mut();
                strip_component_directives(&mut input.directives, &drop_directive);
                input.fields.retain(|_, f| !hidden(&f.directives));
                for field in input.fields.values_mut() {
                    field
                        .make_mut()
                        .directives
                        .retain(|d| !drop_directive(&d.name));
                }
            }
            ExtendedType::Scalar(scalar) => {
                let scalar = scalar.make_mut();
                strip_component_directives(&mut scalar.directives, &drop_directive);
            }
        }
    }

    let definition = schema.schema_definition.make_mut();
    strip_component_directives(&mut definition.directives, &|name| {
        drop_directive(name) || links.is_machinery_directive(name)
    });
    for root in [
        &mut definition.query,
        &mut definition.mutation,
        &mut definition.subscription,
    ] {
        if root
            .as_ref()
            .is_some_and(|r| removed_types.contains(r.as_str()))
        {
            *root = None;
        }
    }

    // Print and parse again: the result has clean source locations, so errors
    // that clients get while validating point at the API schema, not the supergraph.
    let sdl = schema.to_string();
    Schema::parse_and_validate(sdl, "api_schema.graphql")
        .map_err(|e| SupergraphError::InvalidApiSchema(e.errors.to_string()))
}

fn strip_component_directives(directives: &mut DirectiveList, drop: &dyn Fn(&str) -> bool) {
    directives.0.retain(|d| !drop(&d.name));
}

fn is_executable_location(location: &DirectiveLocation) -> bool {
    matches!(
        location,
        DirectiveLocation::Query
            | DirectiveLocation::Mutation
            | DirectiveLocation::Subscription
            | DirectiveLocation::Field
            | DirectiveLocation::FragmentDefinition
            | DirectiveLocation::FragmentSpread
            | DirectiveLocation::InlineFragment
            | DirectiveLocation::VariableDefinition
    )
}

/// Drops `@inaccessible` fields and arguments and the machinery directives on
/// what remains, for object and interface types alike.
fn strip_fields(
    fields: &mut apollo_compiler::collections::IndexMap<
        apollo_compiler::Name,
        apollo_compiler::schema::Component<apollo_compiler::schema::FieldDefinition>,
    >,
    hidden: &impl Fn(&AstDirectives) -> bool,
    drop_directive: &impl Fn(&str) -> bool,
) {
    fields.retain(|_, f| !hidden(&f.directives));
    for field in fields.values_mut() {
        let field = field.make_mut();
        field.directives.retain(|d| !drop_directive(&d.name));
        field.arguments.retain(|a| !hidden(&a.directives));
        for argument in &mut field.arguments {
            argument
                .make_mut()
                .directives
                .retain(|d| !drop_directive(&d.name));
        }
    }
}
