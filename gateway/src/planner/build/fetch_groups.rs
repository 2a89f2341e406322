//! The fetch dependency graph: root and entity fetch groups, keyed so that
//! what lands in one subgraph at one merge path batches into one fetch; the
//! key and `@requires` inputs each entity fetch waits for; identical fetches
//! merged before emission.

use super::*;

impl<'g> Builder<'g> {
    pub(super) fn new_root(&mut self, subgraph: SubgraphId) -> GroupId {
        self.groups.push(Group {
            subgraph,
            entity: false,
            path: Vec::new(),
            deps: Vec::new(),
            requires: SelectionSet::default(),
            selection: SelectionSet::default(),
            conditions: None,
            typename_overrides: Vec::new(),
        });
        let id = self.groups.len() - 1;
        self.roots.push(id);
        id
    }

    pub(super) fn jump_for_field(
        &mut self,
        ctx: &Ctx<'g>,
        field: &'g FieldSel,
        target: Target,
    ) -> Result<Vec<GroupId>, PlanError> {
        self.jump_for_field_as(ctx, field, target, None)
    }

    /// [`Self::jump_for_field`]; with `as_type`, the target knows the
    /// entity only as that interface (an `@interfaceObject`).
    pub(super) fn jump_for_field_as(
        &mut self,
        ctx: &Ctx<'g>,
        field: &'g FieldSel,
        target: Target,
        as_type: Option<Name>,
    ) -> Result<Vec<GroupId>, PlanError> {
        let labels = &self.options.override_labels;
        let seen_as = as_type.as_ref().unwrap_or(&ctx.parent_type);
        let local = self
            .graph
            .local_field(seen_as, &field.name, target.subgraph, None, labels)
            .ok_or_else(|| {
                PlanError::Internal(format!(
                    "{}.{} lost its subgraph",
                    ctx.parent_type, field.name
                ))
            })?;
        let child =
            self.enter_entity_as(ctx, target, local.requires, &field.conditions, as_type)?;
        self.finish_jump(ctx, child, |builder, child_ctx| {
            builder.add_field_here(child_ctx, field, local.provides)
        })
    }

    /// Sets up an entity fetch from `ctx` to `target`: `__typename`, key and
    /// `@requires` fields are planned where the parent is; the child group
    /// (one per subgraph, merge path and parent) depends on whatever fetches
    /// them. Returns the context inside the child group, with the groups that
    /// provide its inputs.
    pub(super) fn enter_entity(
        &mut self,
        ctx: &Ctx<'g>,
        target: Target,
        requires: Option<&'g [Sel]>,
        conditions: &Conditions,
    ) -> Result<(Ctx<'g>, Vec<GroupId>), PlanError> {
        self.enter_entity_as(ctx, target, requires, conditions, None)
    }

    /// [`Self::enter_entity`]; with `as_type`, an object of the concrete
    /// type at `ctx` enters the target as that interface, which the target
    /// knows as an `@interfaceObject`: only objects of the concrete type
    /// are sent (as the interface), in a fetch of their own, so fields that
    /// other implementations ask differently cannot collide.
    pub(super) fn enter_entity_as(
        &mut self,
        ctx: &Ctx<'g>,
        target: Target,
        requires: Option<&'g [Sel]>,
        conditions: &Conditions,
        as_type: Option<Name>,
    ) -> Result<(Ctx<'g>, Vec<GroupId>), PlanError> {
        let concrete = ctx.parent_type.clone();
        let type_name = as_type.clone().unwrap_or_else(|| concrete.clone());
        let key = &self
            .graph
            .keys(&type_name, target.subgraph)
            .get(target.key)
            .ok_or_else(|| PlanError::Internal(format!("{type_name} lost its key")))?
            .fields;
        // A client alias may already use a key or required field's name for
        // something else at this level: fetch the input under a fresh alias;
        // `requires` then reads it from there and sends it under its name.
        let mut renames: Vec<(Name, Name)> = Vec::new();
        for input in key.iter().chain(requires.unwrap_or_default()) {
            if let Sel::Field(input) = input
                && shadowing(ctx.level, input).is_some()
                && !renames.iter().any(|(name, _)| *name == input.name)
            {
                renames.push((input.name.clone(), fresh_alias(ctx.level, &input.name)?));
            }
        }
        let mut input_ctx = ctx.clone();
        input_ctx.hops.push((type_name.clone(), target.subgraph));
        input_ctx.input_aliases = Rc::new(renames.clone());
        self.set_at(ctx.group, &ctx.position)?.add_field(
            None,
            &typename(),
            &[],
            &Conditions::default(),
        )?;
        let mut inputs = self.plan_selections(&input_ctx, key)?;
        if let Some(requires) = requires {
            extend_unique(&mut inputs, self.plan_selections(&input_ctx, requires)?);
        }

        // While planning the inputs of a fetch to this entity in this
        // subgraph, a fetch there that they need in turn is a separate,
        // earlier one (A requires from B, which requires from A).
        let level = if ctx
            .hops
            .iter()
            .any(|(t, g)| *t == type_name && *g == target.subgraph)
        {
            ctx.hops.len()
        } else {
            0
        };
        let mut level = level;
        if as_type.is_some() {
            let index = match self.concrete_levels.iter().position(|t| *t == concrete) {
                Some(index) => index,
                None => {
                    self.concrete_levels.push(concrete.clone());
                    self.concrete_levels.len() - 1
                }
            };
            level += CONCRETE_LEVEL * (index + 1);
        }
        let mut child = self.entity_group(target.subgraph, &ctx.path, ctx.group, level);
        // Sharing a group that one of the inputs waits for would make the
        // two wait for each other: take a fetch of its own instead.
        while inputs
            .iter()
            .any(|input| *input != child && self.depends_on(*input, child))
        {
            level += MAX_INPUT_HOPS + 1;
            if level > 64 * (MAX_INPUT_HOPS + 1) {
                return Err(PlanError::Internal(
                    "entity fetches depend on each other in a cycle".to_owned(),
                ));
            }
            child = self.entity_group(target.subgraph, &ctx.path, ctx.group, level);
        }
        let interface_object = self.graph.is_interface_object(&type_name, target.subgraph);
        let group = &mut self.groups[child];
        for input in &inputs {
            if *input != child && !group.deps.contains(input) {
                group.deps.push(*input);
            }
        }
        group.contribute(&ctx.conditions.union(conditions));
        let override_ = (concrete.to_string(), type_name.to_string());
        if interface_object && !group.typename_overrides.contains(&override_) {
            group.typename_overrides.push(override_);
        }
        // Abstract values inside a representation say their type, as the
        // receiving subgraph needs it to read them.
        let requires = requires.map(|r| with_typenames(self.graph, r));
        let group = &mut self.groups[child];
        let fragment = group.requires.add_fragment(&concrete);
        if let Some(set) = group.requires.at_mut(&[fragment]) {
            set.add_field(None, &typename(), &[], &Conditions::default())?;
            merge_plain(set, key, &renames)?;
            if let Some(requires) = &requires {
                merge_plain(set, requires, &renames)?;
            }
        }
        let fragment = group.selection.add_fragment(&type_name);
        let child_ctx = Ctx {
            group: child,
            position: vec![fragment],
            parent_type: type_name,
            path: ctx.path.clone(),
            conditions: ctx.conditions.clone(),
            provided: None,
            depth: ctx.depth + 1,
            // The payload is a field the target resolves: progress, not a
            // cycle. Only input planning (keys, requires) tracks hops.
            hops: Vec::new(),
            level: ctx.level,
            // Inputs fetched through a further hop keep their aliases there.
            input_aliases: ctx.input_aliases.clone(),
            anchor: None,
            narrowed_to: None,
        };
        let mut child_ctx = child_ctx;
        // Going back from here is best done from where this entity was
        // first reached: fetches from there need not wait for this one.
        match &ctx.anchor {
            Some(anchor) if anchor.steps.is_empty() && anchor.ctx.path == ctx.path => {
                child_ctx.anchor = Some(anchor.clone());
            }
            _ => child_ctx.anchored_here(),
        }
        Ok((child_ctx, inputs))
    }

    /// Plans the payload inside the child group; the result counts both the
    /// groups that fetched inputs and those that fetched the payload.
    pub(super) fn finish_jump(
        &mut self,
        ctx: &Ctx<'g>,
        (child_ctx, mut inputs): (Ctx<'g>, Vec<GroupId>),
        payload: impl FnOnce(&mut Self, &Ctx<'g>) -> Result<Vec<GroupId>, PlanError>,
    ) -> Result<Vec<GroupId>, PlanError> {
        let planned = payload(self, &child_ctx)?;
        extend_unique(&mut inputs, planned);
        if !inputs.contains(&ctx.group) {
            inputs.push(ctx.group);
        }
        Ok(inputs)
    }

    /// Whether `group` waits, directly or not, for `other`.
    pub(super) fn depends_on(&self, group: GroupId, other: GroupId) -> bool {
        let mut stack = vec![group];
        let mut seen = HashSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            for dep in &self.groups[id].deps {
                if *dep == other {
                    return true;
                }
                stack.push(*dep);
            }
        }
        false
    }

    pub(super) fn entity_group(
        &mut self,
        subgraph: SubgraphId,
        path: &[PathElement],
        parent: GroupId,
        level: usize,
    ) -> GroupId {
        let key = (subgraph, path.to_vec(), parent, level);
        if let Some(id) = self.entity_groups.get(&key) {
            return *id;
        }
        self.groups.push(Group {
            subgraph,
            entity: true,
            path: path.to_vec(),
            deps: vec![parent],
            requires: SelectionSet::default(),
            selection: SelectionSet::default(),
            conditions: None,
            typename_overrides: Vec::new(),
        });
        let id = self.groups.len() - 1;
        self.entity_groups.insert(key, id);
        id
    }

    /// Entity fetches that ask one subgraph for the same selection with the
    /// same inputs at the same path fetch the same data: the later one is
    /// dropped and whoever waited for it waits for the earlier one (unless
    /// the earlier one waits for it). Separate fetches arise when inputs
    /// are planned before a fetch they share a subgraph with.
    pub(super) fn merge_identical_groups(&mut self) {
        let count = self.groups.len();
        let mut replaced: Vec<Option<GroupId>> = vec![None; count];
        for later in 0..count {
            if !self.groups[later].entity {
                continue;
            }
            for earlier in 0..later {
                let (a, b) = (&self.groups[earlier], &self.groups[later]);
                if replaced[earlier].is_none()
                    && a.entity
                    && a.subgraph == b.subgraph
                    && a.path == b.path
                    && a.requires == b.requires
                    && a.selection == b.selection
                    && a.typename_overrides == b.typename_overrides
                    && !self.depends_on(earlier, later)
                {
                    replaced[later] = Some(earlier);
                    break;
                }
            }
        }
        for (later, earlier) in replaced.iter().enumerate() {
            let Some(earlier) = *earlier else {
                continue;
            };
            let conditions = self.groups[later].conditions.take();
            if let Some(conditions) = conditions {
                self.groups[earlier].contribute(&conditions);
            }
            // Still emitted where it stood, fetching nothing.
            self.groups[later].selection = SelectionSet::default();
        }
        for (id, group) in self.groups.iter_mut().enumerate() {
            let mut deps = Vec::with_capacity(group.deps.len());
            for dep in &group.deps {
                let dep = replaced[*dep].unwrap_or(*dep);
                if dep != id && !deps.contains(&dep) {
                    deps.push(dep);
                }
            }
            group.deps = deps;
        }
    }
}
